"""Built-in video back-ends (``register_video_backends``): PyAV first, OpenCV as the fallback."""
