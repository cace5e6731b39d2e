from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('invocations', '0009_eic_qualified_configs'),
    ]

    operations = [
        migrations.AddField(
            model_name='invocation',
            name='qualifier',
            field=models.CharField(blank=True, default='', max_length=128),
        ),
        migrations.AddField(
            model_name='invocation',
            name='client_context',
            field=models.TextField(blank=True, default=''),
        ),
    ]
