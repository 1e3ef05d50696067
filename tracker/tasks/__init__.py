"""Tasks (任务): one measure × one responsible unit, with their lifecycle, progress and evidence."""
