"""Reports for other systems: JUnit XML (generic CI), GitHub Classroom payloads."""
