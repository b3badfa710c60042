"""Crowd pieces drawn inside pages other areas own: the quality page's qualification section and the links
beside the review page. Tags, so those pages' views need not change."""

from django import template

from crowd.selectors import studies as selectors
from crowd.services.studies import crowd_setup_for
from reviewer import policies

register = template.Library()


@register.inclusion_tag("crowd/_qualification_results.html")
def qualification_results(dataset):
    return {"dataset": dataset, "setup": crowd_setup_for(dataset), "results": selectors.qualification_results(dataset)}


@register.inclusion_tag("crowd/_review_links.html", takes_context=True)
def review_crowd_links(context, batch):
    user = context["request"].user
    participation = None
    if policies.is_crowd_worker(user):
        participation = selectors.participation_for_batch(user=user, batch_id=batch.pk)
    return {"dataset_id": batch.dataset_id, "participation": participation}
