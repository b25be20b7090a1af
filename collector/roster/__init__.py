"""The duty roster: who staffs which counter when, and the rule that attributes a press to an officer."""
