from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviewer", "0006_gate_snapshot"),
    ]

    operations = [
        migrations.AddField(
            model_name="crowdworker",
            name="browser_key_hash",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
    ]
