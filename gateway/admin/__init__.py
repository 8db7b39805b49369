"""AdminService: model database management and job monitoring, for superusers."""
