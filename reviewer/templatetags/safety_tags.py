"""The release gate's estimate for the dataset page, read where the export form is drawn."""

from django import template

from reviewer.services.gate import gate_for_page

register = template.Library()


@register.simple_tag
def release_gate(dataset, approved):
    """The gate as the dataset page shows it: live for a dataset of up to ~20 k approved images, else the last
    snapshot (see services/gate.py)."""
    return gate_for_page(dataset=dataset, approved=approved or 0)
