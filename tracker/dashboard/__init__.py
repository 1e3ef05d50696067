"""Dashboards, ledgers (台账) and reports for the leadership group and supervisors."""
