"""Use cases shared by the GraphQL resolvers and the workers."""
