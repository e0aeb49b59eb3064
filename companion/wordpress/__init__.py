"""Publishing to WordPress (REST with an Application Password, XML-RPC for the media library) and
signed callbacks to the ScriptHammer plugin's scripthammer/v1 namespace."""
