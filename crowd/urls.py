"""The crowd pages: the worker's (invite landing, study, qualification, completion) and the admin's."""

from crowd.views import admins, workers

urlpatterns = [*workers.urlpatterns, *admins.urlpatterns]
