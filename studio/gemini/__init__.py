"""The Gemini client: HTTP (httpx), the wire format, error mapping and streaming."""
