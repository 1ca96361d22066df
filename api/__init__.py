"""The GraphQL API: schema, resolvers, the Starlette app and the command line."""
