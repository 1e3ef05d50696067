"""Responsible units (责任单位): prefecture departments and county governments."""
