"""Thin wrapper methods that show the real parameters in ``help()`` and ``inspect``.

``MLP.fit(self, data, y=None, **options)`` only calls ``training.fit(self, data, y, **options)``;
written that way, ``help(MLP.fit)`` would show ``**options`` instead of ``epochs``,
``batch_size`` and the rest. :func:`method_calling` gives such a method the function's
signature (its first parameter shown as ``self``) and docstring.

Example:
    >>> def area(shape, scale=1.0):
    ...     "The area, scaled."
    ...     return shape.w * shape.h * scale
    >>> class Box:
    ...     w, h = 2, 3
    ...     @method_calling(area)
    ...     def area(self, *args, **kwargs):
    ...         return area(self, *args, **kwargs)
    >>> inspect.signature(Box.area), inspect.signature(Box().area), Box.area.__doc__
    (<Signature (self, scale=1.0)>, <Signature (scale=1.0)>, 'The area, scaled.')
"""

from __future__ import annotations

import inspect


def method_calling(function):
    """A decorator for a method that only calls ``function(self, ...)``: the method gets the
    function's docstring and signature, with the first parameter named ``self``.

    Example:
        >>> def hello(person, greeting="hi"):
        ...     return greeting
        >>> method_calling(hello)(lambda self, **kw: hello(self, **kw)).__signature__
        <Signature (self, greeting='hi')>
    """
    signature = inspect.signature(function)
    first, *rest = signature.parameters.values()

    def decorate(method):
        method.__signature__ = signature.replace(parameters=[first.replace(name="self"), *rest])
        method.__doc__ = function.__doc__
        return method
    return decorate
