"""The release gate's estimate for the dataset page, read where the export form is drawn."""

from django import template

from reviewer.services.gate import gate_check

register = template.Library()


@register.simple_tag
def release_gate(dataset):
    return gate_check(dataset=dataset)
