"""Template tags of the admin workflow: the dataset page's review panel gets its numbers here."""

from django import template

from reviewer.selectors.workflow import dataset_workflow_counts

register = template.Library()


@register.simple_tag
def workflow_counts(dataset):
    """{% workflow_counts dataset as wf %}: batches, assignments and images per stage of the dataset."""
    return dataset_workflow_counts(dataset)
