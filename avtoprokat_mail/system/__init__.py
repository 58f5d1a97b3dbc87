"""What the program needs from the operating system: file locks, one copy per data folder, the log.

No tkinter here.
"""
