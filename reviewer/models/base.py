"""Pieces shared by the models: the box columns and their database checks."""

from django.db import models
from django.db.models import CheckConstraint, F, Q

from reviewer.imaging.geometry import Box


class BoxFields(models.Model):
    """A box in pixels of the image as displayed (EXIF orientation applied), corners, origin top-left.

    The database refuses negative or inverted boxes; the services also refuse boxes that leave the image
    (a check across tables the database cannot express).
    """

    x0 = models.FloatField()
    y0 = models.FloatField()
    x1 = models.FloatField()
    y1 = models.FloatField()

    class Meta:
        abstract = True

    @property
    def width(self) -> float:
        return self.box.width

    @property
    def height(self) -> float:
        return self.box.height

    @property
    def box(self) -> Box:
        return Box(self.x0, self.y0, self.x1, self.y1)

    def set_box(self, box: Box) -> None:
        self.x0, self.y0, self.x1, self.y1 = box.x0, box.y0, box.x1, box.y1


def box_constraints(prefix: str, *, nullable: bool = False) -> list[CheckConstraint]:
    inside = Q(x0__gte=0, y0__gte=0, x1__gt=F("x0"), y1__gt=F("y0"))
    if nullable:
        inside = inside | Q(x0__isnull=True, y0__isnull=True, x1__isnull=True, y1__isnull=True)
    return [CheckConstraint(condition=inside, name=f"{prefix}_box_valid")]
