"""Live sessions: the robots playing on JACK and scsynth in real time, the members' room and listeners on
Janus (WebRTC), the live HLS broadcast, the audience's votes, chat and marks, and the recording."""
