"""The duty roster: who staffs which counter when, and to whom a press is attributed."""
