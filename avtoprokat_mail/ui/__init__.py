"""The GUI: a thin ttkbootstrap + tksheet skin over storage/, interchange/ and sending/."""
