"""The terminal: the one `Console` every command writes to and asks through (`console`),
how lines are marked and wrapped for each stream (`style`), and opening the browser
(`browser`). Nothing here knows about Autumn."""
