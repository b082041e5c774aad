"""The capacity calendar: maximum, booked and free hours per process and ISO week."""
