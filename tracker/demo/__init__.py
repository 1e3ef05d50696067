"""Demo data: the Chuxiong plan, demo users with printed passwords, sample school data."""
