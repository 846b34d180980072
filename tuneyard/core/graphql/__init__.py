"""GraphQL building blocks shared by every domain: context, connections, scalars, masking, execution."""
