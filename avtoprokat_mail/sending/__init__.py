"""Sending: building messages and handing them to a transport. No tkinter here, ever."""
