"""Plans (实施方案), their sections, measures and responsible units."""
