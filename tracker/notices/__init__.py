"""Notices: the outbox of notifications (in-app inbox, e-mail, webhook), written with the change that causes them."""
