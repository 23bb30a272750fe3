module nocobase-maintenance/pause

go 1.26.0
