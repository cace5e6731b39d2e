from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('functions', '0005_lambda_fidelity'),
    ]

    operations = [
        migrations.AddField(
            model_name='layerversion',
            name='deleted_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
