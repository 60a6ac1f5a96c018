"""Images (Pillow): sniffing, sanitising, thumbnails, embedded metadata and contact sheets."""
