"""Scripted shoppers, the test bed's stand-in for people: scenario shoppers (one hidden preference) and
persona shoppers (the evaluation's persona library), both driving the capture agent in real Chromium."""
