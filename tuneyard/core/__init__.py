"""What every domain builds on: config, database, errors, migrations, pages, the queue, GraphQL parts."""
