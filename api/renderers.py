"""JSON for everything under /api/ (no browsable HTML), plus the archive types of an export download.

The negotiation falls back to JSON instead of answering 406, so a browser's `Accept: text/html` still gets data.
"""

from __future__ import annotations

import json

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer


class _ArchiveRenderer(BaseRenderer):
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict | list):  # an error raised after negotiation: ApiErrorMiddleware relabels it
            return json.dumps(data).encode()
        return data


class ZipRenderer(_ArchiveRenderer):
    media_type = "application/zip"
    format = "zip"


class TarRenderer(_ArchiveRenderer):
    media_type = "application/x-tar"
    format = "tar"


class JSONFallbackNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except Exception:  # NotAcceptable or a malformed Accept header: answer with the first renderer (JSON)
            renderer = renderers[0]
            return renderer, renderer.media_type
