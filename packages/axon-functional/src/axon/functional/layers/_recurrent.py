"""Recurrent cells (lstm, gru, conv_lstm) and unrolls (lax.scan and static)."""

__all__: list[str] = []
