"""The Qt floor: widgets wired to the core. Importing it never imports torch."""
