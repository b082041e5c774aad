// Capability form: offer only the materials the chosen process can work.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("capability-form");
  if (!form) return;
  const allowed = JSON.parse(form.dataset.allowedMaterials || "{}");
  const select = form.querySelector("select[name=process_code]");
  const boxes = form.querySelectorAll("input[name=materials]");
  const update = () => {
    const code = select ? select.value : form.dataset.process;
    const fits = new Set(allowed[code] || []);
    boxes.forEach((box) => {
      const item = box.closest("li") || box;
      item.hidden = !fits.has(box.value);
      if (item.hidden) box.checked = false;
    });
  };
  if (select) select.addEventListener("change", update);
  update();
});
