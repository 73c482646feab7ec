"""What every part shares: settings, the database, migrations, the clock, tokens, audit."""
