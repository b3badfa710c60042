"""Charts as server-rendered SVG: pure Python, no Django, no JavaScript, no library. Each function takes plain
numbers and labels and returns one `<svg>` element as a string; pages mark it safe and inline it."""
