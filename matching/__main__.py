from matching.cli import match_command

match_command(prog_name="python -m matching")
