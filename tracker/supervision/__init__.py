"""Supervision (督办问责) — measure (二十三): leadership instructions, flags, interviews (约谈),
rectification lists (整改清单), accountability (问责) and each unit's accountability file (督办档案)."""
