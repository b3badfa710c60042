"""DRF serializers, one module per area."""
