"""Users, roles and sign-in."""
