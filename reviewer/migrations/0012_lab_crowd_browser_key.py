from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviewer", "0011_triage_candidate_dismissal"),
    ]

    operations = [
        migrations.AddField(
            model_name="crowdworker",
            name="browser_key_hash",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
    ]
