"""Files shipped with digitpad (the shipped model, icons); installed as the package data ``digitpad.resources``."""
