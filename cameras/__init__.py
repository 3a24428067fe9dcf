"""Camera frame sources (OpenCV streams, files, folders, USB) and the scripted scene source."""
