"""MkDocs hook: the API page links to api/openapi.yaml, written from the code at every build (never stale).

It sets Django up with Veil's settings (nothing connects to anything at import) and asks drf-spectacular for the
same schema /api/v1/schema/ serves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]


def _schema_yaml() -> str:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiYamlRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OpenApiYamlRenderer().render(schema, renderer_context={}).decode()


def on_files(files: Files, config) -> Files:
    files.append(File.generated(config, "api/openapi.yaml", content=_schema_yaml()))
    return files
