"""The lessons: what each teaches, the check on the request a student's chat sent, progress."""
