"""Crowd onboarding as its own app: invite links, crowd workers, instructions, the qualification round,
completion codes and the pay sheet. It builds on `reviewer` (datasets, images, batches, reviews); `reviewer`
reads crowd data only through `crowd.interface`."""
