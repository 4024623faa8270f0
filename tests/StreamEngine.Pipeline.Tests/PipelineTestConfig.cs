using Akka.Configuration;
using StreamEngine.Pipeline.Delivery;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Tests;

internal static class PipelineTestConfig
{
    /// <summary>In-memory journal with our serializer bound to our events. (Test-only HOCON; the engine composes through Akka.Hosting.)</summary>
    public static Config Create() => ConfigurationFactory.ParseString($$"""
        akka.loglevel = WARNING
        # A fresh actor system's first persist (recovery, JIT) can take seconds while CI runs the other test projects
        # beside this one on two cores: the default 3 s for an expected message failed there once.
        akka.test.single-expect-default = 15s
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.local"
        akka.actor.serialize-messages = off
        akka.actor.serializers.streamengine = "{{typeof(IngestEventSerializer).AssemblyQualifiedName}}"
        akka.actor.serialization-bindings {
          "{{typeof(IIngestEvent).AssemblyQualifiedName}}" = streamengine
          "{{typeof(ISinkEvent).AssemblyQualifiedName}}" = streamengine
          "{{typeof(IngestSnapshot).AssemblyQualifiedName}}" = streamengine
        }
        akka.actor.serialization-identifiers {
          "{{typeof(IngestEventSerializer).AssemblyQualifiedName}}" = {{IngestEventSerializer.SerializerId}}
        }
        """);
}
