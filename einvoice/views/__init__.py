"""What people read: queries, terminal tables, HTML/PDF invoice pages, labels, the overview
report and the service status."""
